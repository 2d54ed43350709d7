"""The ``ecm`` command line: one module per subcommand group, a thin skin over the library."""
