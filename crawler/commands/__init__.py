"""One module per subcommand: flags in, calls to the library, text out."""
