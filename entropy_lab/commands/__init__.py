"""One module per `entropy-lab` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``."""
