"""The presets shipped with sslbench (TOML files beside this one); user presets shadow them by name."""
