"""Layer modules, one submodule per family, so a lookup imports only one of them."""
