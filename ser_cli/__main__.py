from ser_cli.cli import main

main()
