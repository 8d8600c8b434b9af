from mlmeta.cli import main

main()
