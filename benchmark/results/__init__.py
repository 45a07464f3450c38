"""The results store: run directories, their layout and identity, reruns, and collection into tables."""
