"""The Textual workbench. It talks to training only through the run store (sslbench.runs)."""
