"""Site: papermill runs, nbconvert pages and the index."""
