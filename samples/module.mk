# samples: filled in as samples/ lands
samples:
