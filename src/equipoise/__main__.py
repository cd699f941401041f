from equipoise.cli.main import main

main()
