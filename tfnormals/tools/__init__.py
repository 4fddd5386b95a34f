"""Tools: what runs a trained model — loading, tiling, predict, relight, evaluate and baselines."""
