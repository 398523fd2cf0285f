# bench: filled in as bench/ lands
