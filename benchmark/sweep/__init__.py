"""Studies as sweeps: planning runs, launching them through submitit, running and estimating sweeps."""
