"""What the layers promise at run time (the static contracts are in pyproject.toml, checked by
`make lint`): everything below the GUI imports without Qt, and an export's checks without torch."""

import subprocess
import sys


def run_fresh(code: str) -> str:
    """Run code in a fresh interpreter (nothing imported yet); its stdout, or fail with its
    stderr."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_everything_below_the_gui_imports_without_qt():
    code = (
        "import sys\n"
        "import pkgutil, importlib\n"
        "import dsepconv_gui\n"
        "for layer in pkgutil.iter_modules(dsepconv_gui.__path__, 'dsepconv_gui.'):\n"
        "    if layer.name == 'dsepconv_gui.gui':\n"
        "        continue\n"
        "    package = importlib.import_module(layer.name)\n"
        "    for m in pkgutil.iter_modules(getattr(package, '__path__', []), layer.name + '.'):\n"
        "        if not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph'))\n"
        "print(len([m for m in sys.modules if m.startswith('dsepconv_gui.')]))\n"
        "assert not qt, qt\n"
    )
    assert int(run_fresh(code).strip()) >= 40  # the check really imported the modules


def test_export_and_file_checks_import_without_torch():
    # The command line checks an export's input and output before loading a model: the
    # modules that do that must not take the seconds that importing torch does.
    run_fresh(
        "import sys\n"
        "import dsepconv_gui.export.clip_export, dsepconv_gui.video.clips, "
        "dsepconv_gui.frames.images\n"
        "import dsepconv_gui.base.safe_output, dsepconv_gui.base.input_paths\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
