"""sslbench: a terminal workbench for semi-supervised image classification."""
