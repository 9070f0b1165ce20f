"""The pixel canvas every figure and tool edit is drawn on (layer L1): one full-bleed axes at `DPI` whose data
coordinates are pixels with the origin at the top-left (y grows down), so named elements are exact. Procedural
families, model prompts and the reply parser all prepend these preambles.
"""

from __future__ import annotations

DPI = 100


def canvas_code(width: int, height: int) -> str:
    """Preamble for render code: a full-bleed pixel-space axes with a top-left origin."""
    return (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
        f"fig = plt.figure(figsize=({width}/{DPI}, {height}/{DPI}), dpi={DPI})\n"
        "ax = fig.add_axes([0, 0, 1, 1])\n"
        f"ax.set_xlim(0, {width}); ax.set_ylim({height}, 0); ax.axis('off')\n"
        "fig.patch.set_facecolor('white')\n"
    )


def tool_canvas_code(width: int, height: int) -> str:
    """Preamble for tool code: load the current `image.png` into the same pixel-space axes."""
    return (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
        "img = plt.imread('image.png')\n"
        f"fig = plt.figure(figsize=({width}/{DPI}, {height}/{DPI}), dpi={DPI})\n"
        "ax = fig.add_axes([0, 0, 1, 1])\n"
        f"ax.imshow(img, extent=(0, {width}, {height}, 0))\n"
        f"ax.set_xlim(0, {width}); ax.set_ylim({height}, 0); ax.axis('off')\n"
    )
