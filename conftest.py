"""Test-suite settings shared by the unit tests and the notebooks that nbval runs (at the root, so that
`pytest --nbval notebooks/X.ipynb` on its own gets them too).

DROPKEY_QUICK=1 shrinks data, model and epochs so every notebook stays fast; it is set here, before any kernel
starts, so the notebook kernels nbval launches inherit it.
"""

import os

os.environ["DROPKEY_QUICK"] = "1"
