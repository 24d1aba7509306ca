"""Running work outside this process: launching a worker for a run, and sweeps (locally or on Ray). torch-free."""
