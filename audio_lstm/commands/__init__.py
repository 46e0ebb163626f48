"""One module per `audio-lstm` subcommand, on the shared exit codes of `base`."""
