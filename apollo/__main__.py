from apollo.cli import main

main()
