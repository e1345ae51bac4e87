"""Console entry points. Each module is a thin ``main(argv=None)`` that parses kebab-case flags and calls one typed
library function a user could call too."""
