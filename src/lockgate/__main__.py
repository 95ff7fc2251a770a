"""`python -m lockgate` runs the command line."""

from lockgate.cli import main

if __name__ == "__main__":
    main()
