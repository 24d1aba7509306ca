"""The torch-free core: config schema and every method's and dataset's declared parameters, validation,
the run store, event reading, sweep state and formatting.

Nothing under sslbench.core imports torch (tests/test_layers.py checks it), so the workbench and the
listing commands (`runs`, `report`, `presets`, `methods`) start fast and cannot break because a method did.
"""
