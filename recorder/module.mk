# recorder: filled in as recorder/ lands
