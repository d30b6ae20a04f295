"""The inspector dock: which pair to analyse, what the offset views show, and the
sampling-point inspector's table and kernel plot."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QSlider, QVBoxLayout, QWidget

from dsepconv_gui.gui.inspector import InspectorPanel
from dsepconv_gui.interpolation.pair_analysis import STEPS as PAIR_STEPS

STEP_LABELS = {
    1: "k and k+1",
    2: "k and k+2 (k+1 is the truth)",
    4: "k and k+4 (the frames between are truths)",
}
STEPS = {STEP_LABELS[step]: step for step in PAIR_STEPS}
TIME_STEPS = 16  # the time slider moves in sixteenths of the pair's interval
MEAN_DISPLACEMENT = "weighted mean displacement"
LEARNED_SHIFT = "learned: what the network adds to the flow"
MEAN_TAP, LEARNED_TAP = -1, -2  # PairOptions.tap for the two views that are not one tap


class PairOptions(QWidget):
    """pair_changed: the pair to analyse changed (the step); comparison_changed(shown): the
    classical interpolators are asked for or not; views_changed: only how the offsets are drawn
    changed."""

    pair_changed = Signal()
    comparison_changed = Signal(bool)
    views_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step_combo = QComboBox()
        self.step_combo.addItems(list(STEPS))
        self.compare_check = QCheckBox("Compare with classical interpolators")
        self.arrows_check = QCheckBox("Arrows on offset views")
        self.tap_combo = QComboBox()
        self._first_tap = 1  # the combo's index of tap (0, 0)
        self.time_label = QLabel()
        self.time_slider = QSlider(Qt.Orientation.Horizontal)
        self.time_slider.setRange(1, TIME_STEPS - 1)
        self.time_slider.setValue(TIME_STEPS // 2)
        self.time_slider.setPageStep(TIME_STEPS // 4)
        self.set_takes_time(False)
        for combo in (self.step_combo, self.tap_combo):  # a narrow dock cuts their text
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
        self.inspector = InspectorPanel()
        form = QVBoxLayout(self)
        form.addWidget(QLabel("Input pair"))
        form.addWidget(self.step_combo)
        form.addWidget(self.time_label)
        form.addWidget(self.time_slider)
        form.addWidget(self.compare_check)
        form.addWidget(QLabel("Offset view shows"))
        form.addWidget(self.tap_combo)
        form.addWidget(self.arrows_check)
        form.addWidget(self.inspector, stretch=1)
        self.step_combo.currentIndexChanged.connect(lambda _: self.pair_changed.emit())
        self.time_slider.valueChanged.connect(self._on_time_moved)
        self.time_slider.sliderReleased.connect(self.pair_changed.emit)
        self.compare_check.toggled.connect(self.comparison_changed)
        self.arrows_check.toggled.connect(lambda _: self.views_changed.emit())
        self.tap_combo.currentIndexChanged.connect(lambda _: self.views_changed.emit())

    def restore(self, settings) -> None:
        """The pair and view choices of the last run (settings.AppSettings)."""
        self.set_step(settings.get("step"))
        self.compare_check.setChecked(settings.get("compare"))
        self.arrows_check.setChecked(settings.get("arrows"))

    def save(self, settings) -> None:
        settings.set("step", self.step)
        settings.set("compare", self.compare_check.isChecked())
        settings.set("arrows", self.arrows_check.isChecked())

    @property
    def time(self) -> float:
        """Where the frame to make lies between A (0) and B (1); 1/2 for a midpoint model."""
        if not self.time_slider.isEnabled():
            return 0.5
        return self.time_slider.value() / TIME_STEPS

    def set_takes_time(self, takes_time: bool) -> None:
        """Enable the time slider for a model that makes any time between two frames."""
        self.time_slider.setEnabled(takes_time)
        self._show_time()
        self.time_slider.setToolTip(
            "Where the interpolated frame lies between A and B: this model makes any time in "
            "one pass"
            if takes_time
            else "This model makes the middle frame only (a model trained as flow-small-time "
            "makes any time)"
        )

    def _on_time_moved(self, _value: int) -> None:
        self._show_time()
        if not self.time_slider.isSliderDown():  # keys and clicks; a drag asks on release
            self.pair_changed.emit()

    def _show_time(self) -> None:
        self.time_label.setText(
            f"Time between A and B: {self.time:g}"
            + ("" if self.time_slider.isEnabled() else " (this model: middle only)")
        )

    @property
    def step(self) -> int:
        return STEPS[self.step_combo.currentText()]

    def set_step(self, step: int) -> None:
        steps = list(STEPS.values())
        self.step_combo.setCurrentIndex(steps.index(step if step in steps else 1))

    @property
    def tap(self) -> int:
        """MEAN_TAP for the weighted mean displacement, LEARNED_TAP for what the network adds
        to the flow prior, else the tap index i·n + j."""
        index = self.tap_combo.currentIndex()
        if index >= self._first_tap:
            return index - self._first_tap
        return LEARNED_TAP if self.tap_combo.currentText() == LEARNED_SHIFT else MEAN_TAP

    def set_kernel_size(self, n: int, has_prior: bool = False) -> None:
        """The taps of an n×n model in the offset-view list; with a flow prior, also what the
        network adds to it."""
        special = [MEAN_DISPLACEMENT] + ([LEARNED_SHIFT] if has_prior else [])
        self._first_tap = len(special)
        self.tap_combo.blockSignals(True)
        self.tap_combo.clear()
        self.tap_combo.addItems(special)
        self.tap_combo.addItems([f"tap ({i}, {j})" for i in range(n) for j in range(n)])
        self.tap_combo.blockSignals(False)
