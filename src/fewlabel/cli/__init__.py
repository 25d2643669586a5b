"""Command-line interface: ``fewlabel <group> <command>``. One module per command or group."""
