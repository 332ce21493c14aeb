"""One module per subcommand: flags in, one call to :mod:`crawler.app` (or the readers), text out."""
