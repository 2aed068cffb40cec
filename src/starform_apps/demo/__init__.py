"""The demo: the whole loop on embedded defaults, told as a timeline."""

from starform_apps.demo.story import run_demo
from starform_apps.demo.world import World, open_world

__all__ = ["World", "open_world", "run_demo"]
