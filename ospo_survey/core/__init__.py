"""Foundation: errors, paths, file and YAML helpers (imports nothing of the package)."""
