"""The core and the command line never import Qt (the GUI is a layer on top)."""

import subprocess
import sys


def run_fresh(code: str) -> str:
    """Run code in a fresh interpreter (nothing imported yet); its stdout, or fail with its stderr."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_core_and_cli_import_without_qt():
    code = (
        "import sys\n"
        "import dsepconv_gui.cli, dsepconv_gui.core\n"
        "import pkgutil, importlib\n"
        "import dsepconv_gui.core as core\n"
        "for m in pkgutil.iter_modules(core.__path__):\n"
        "    importlib.import_module('dsepconv_gui.core.' + m.name)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph'))\n"
        "print(len([m for m in sys.modules if m.startswith('dsepconv_gui.core.')]))\n"
        "assert not qt, qt\n"
    )
    assert int(run_fresh(code).strip()) >= 8  # the check really imported the core modules


def test_export_and_file_checks_import_without_torch():
    # The command line checks an export's input and output before loading a model: the
    # modules that do that must not take the seconds that importing torch does.
    run_fresh(
        "import sys\n"
        "import dsepconv_gui.export.clip_export, dsepconv_gui.video.clips, dsepconv_gui.frames.images\n"
        "import dsepconv_gui.base.safe_output, dsepconv_gui.base.input_paths\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
