# analyze: filled in as analyze/ lands
