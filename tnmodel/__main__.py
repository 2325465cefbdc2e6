from tnmodel.cli import main

main()
