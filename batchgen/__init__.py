"""Pure domain core: imports nothing from ComfyUI."""
