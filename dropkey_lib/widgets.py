"""Live training curves and an interactive training dashboard for the notebooks.

`LiveTrainingPlot` is a callback for `train.train(..., callback=...)`. After every epoch it redraws one PNG
figure with the loss and accuracy curves (train vs test). In a plain notebook cell it owns ONE display handle and
updates it in place (no `clear_output` loop, so the cell's output never flickers or grows):

    live = LiveTrainingPlot(epochs=config.epochs)      # shows an empty plot now
    result = train(config, data=data, callback=live, progress=False)

`TrainingDashboard` puts sliders and dropdowns for mode, drop ratio, schedule, epochs and training-set size in
front of the very same `train.train`, with a Train button, the same live plot (drawn into an image widget) and a
table of every run made so far:

    dashboard = TrainingDashboard(data)                # data loaded once, reused by every run
    display(dashboard)

Everything is drawn with matplotlib's Agg canvas into PNG bytes, so the plots are plain images: they need no
interactive matplotlib backend and show in JupyterLab, in exported notebooks and in headless browsers alike.

The dashboard's controls and messages speak the language of `i18n.use_language` (the Chinese notebooks choose
zh_CN). The plots stay English: matplotlib finds no Chinese font on Binder or on a bare Linux machine, and would
draw boxes. So does `describe`, a short settings label that the plot's title uses too.
"""

from __future__ import annotations

import html
import io
import math
import time
from typing import Any, Sequence

from . import metrics
from . import train as training
from .attention_config import MODES
from .i18n import _
from .plots import plot_history
from .rundir import Run
from .runs import summary_table
from .schedules import SCHEDULES, max_drop_ratio
from .tables import format_duration

PLACEHOLDER_TEXT = "Press Train to start a run."
RATIO_STEP = 0.05  # the drop-ratio slider's step
MAX_SEED = 2**31 - 1  # the seed box's upper bound: any seed a student would type


# ----------------------------------------------------------------------------------------------------------------
# The live plot


def render_curves(
    history: Sequence[dict],
    *,
    epochs: int | None = None,
    title: str = "",
    figsize: tuple[float, float] = (9.0, 3.3),
    dpi: int = 90,
) -> bytes:
    """PNG bytes of `plots.plot_history` (loss and accuracy per epoch), drawn off-screen with matplotlib's Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    plot_history(history, epochs=epochs, title=title, fig=fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


class LiveTrainingPlot:
    """A `train(..., callback=...)` callback that redraws the loss and accuracy curves after every epoch.

    Without `image` it shows the figure in the notebook through one `IPython.display` display handle, created
    when the plot is shown (`show=True`: at construction) and updated in place after each epoch. With `image` (an
    `ipywidgets.Image`) it writes the PNG into that widget instead; the dashboard uses this.

    epochs: the planned number of epochs (fixes the x axis; also shown in the title).
    `records` holds every epoch's record received so far.
    """

    def __init__(
        self,
        epochs: int | None = None,
        *,
        title: str = "",
        image: Any = None,
        show: bool = True,
        figsize: tuple[float, float] = (9.0, 3.3),
    ) -> None:
        self.epochs = epochs
        self.title = title
        self.image = image
        self.figsize = figsize
        self.records: list[dict] = []
        self.started = time.perf_counter()
        self._handle = None
        if show:
            self.show()

    def reset(self, epochs: int | None = None, title: str | None = None) -> None:
        """Forget the curves (for a new run) and redraw the empty plot."""
        self.records = []
        self.epochs = epochs if epochs is not None else self.epochs
        self.title = title if title is not None else self.title
        self.started = time.perf_counter()
        self.update()

    def status(self) -> str:
        """The title line: the run's title and how far it got."""
        done = len(self.records)
        total = self.epochs or "?"
        if done == 0:
            state = f"training epoch 1/{total} ..."
        else:
            last = self.records[-1]
            state = (
                f"epoch {done}/{total}: {metrics.short_label('probe_test_accuracy')} "
                f"{last['probe_test_accuracy']:.1%}, "
                f"{time.perf_counter() - self.started:.0f} s elapsed"
            )
        return f"{self.title} | {state}" if self.title else state

    def png(self) -> bytes:
        """The current figure as PNG bytes."""
        return render_curves(self.records, epochs=self.epochs, title=self.status(), figsize=self.figsize)

    def show(self) -> None:
        """Display the plot (a new display handle), or draw it into the image widget."""
        if self.image is not None:
            self.update()
            return
        from IPython.display import Image, display

        self._handle = display(Image(data=self.png(), format="png"), display_id=True)

    def update(self) -> None:
        """Redraw: update the display handle in place, or the image widget's value."""
        if self.image is not None:
            self.image.value = self.png()
        elif self._handle is not None:
            from IPython.display import Image

            self._handle.update(Image(data=self.png(), format="png"))

    def __call__(self, record: dict) -> None:
        self.records.append(metrics.upgrade_record(record))
        self.update()


# ----------------------------------------------------------------------------------------------------------------
# The dashboard


def train_size_options(num_train: int, extra: Sequence[int | None] = ()) -> list[tuple[str, int | None]]:
    """Dropdown options for the training-set size: a few subset sizes below `num_train`, then all of it."""
    sizes = {1_000, 2_000, 5_000, 10_000, 20_000} | {s for s in extra if s is not None}
    options = [(f"{s:,}", s) for s in sorted(sizes) if 10 <= s < num_train]
    options.append((_("all ({count})").format(count=f"{num_train:,}"), None))
    return options


class TrainingDashboard:
    """Sliders and dropdowns in front of `train.train`, a Train button, live curves and a table of the runs so far.

    data: a loaded `CIFAR10Data`; every run reuses it (`train(..., data=data)`), so it is loaded only once.
    base: the `TrainConfig` whose other settings (model size, lr, batch size, test size, ...) every run uses; the
        controls (regulariser, ratio, schedule, epochs, train size, seed) start at its values. Default:
        `TrainConfig.create()` (quick or full mode).
    out_dir: when given, each run is saved in its own folder `out_dir/run-<n>` (loadable with `rundir.load_run`).
    device: where runs train, e.g. "cuda" (default: the CPU).

    `runs` holds every finished run as a `rundir.Run`, so `plots.plot_runs(dashboard.runs)` compares them.
    Display it with `display(dashboard)`.
    """

    def __init__(
        self, data, *, base: "training.TrainConfig | None" = None, out_dir=None, max_epochs: int = 30, device=None
    ) -> None:
        import ipywidgets as w

        self.data = data
        self.base = base if base is not None else training.TrainConfig.create()
        self.out_dir = out_dir
        self.device = device
        self.runs: list[Run] = []
        self.results: list[training.TrainResult] = []
        self.busy = False

        wide = {"description_width": "90px"}
        drop = self.base.drop
        self.mode = w.Dropdown(options=list(MODES), value=drop.mode, description=_("mode"), style=wide)
        self.drop_ratio = w.FloatSlider(
            value=drop.drop_ratio,
            min=0.0,
            max=self._ratio_limit(drop.schedule),
            step=RATIO_STEP,
            description=_("drop ratio"),
            readout_format=".2f",
            style=wide,
        )
        self.schedule = w.Dropdown(options=list(SCHEDULES), value=drop.schedule, description=_("schedule"), style=wide)
        self.epochs = w.IntSlider(
            value=min(self.base.epochs, max_epochs),
            min=1,
            max=max(max_epochs, self.base.epochs),
            description=_("epochs"),
            style=wide,
        )
        sizes = train_size_options(len(data.train_images), [self.base.train_size])
        default_size = self.base.train_size if any(v == self.base.train_size for _label, v in sizes) else None
        self.train_size = w.Dropdown(options=sizes, value=default_size, description=_("train size"), style=wide)
        # One seed fixes the initial weights, the training subset and the batch order: two runs that differ only in
        # the regulariser are then a paired comparison (notebook 09), and a classmate can repeat a run exactly.
        self.seed = w.BoundedIntText(
            value=self.base.seed, min=0, max=MAX_SEED, description=_("seed"), style=wide, layout=w.Layout(width="180px")
        )
        self.train_button = w.Button(
            description=_("Train"),
            button_style="primary",
            icon="play",
            tooltip=_("train one run with these settings"),
        )
        self.message = w.HTML()
        self.plot = w.Image(format="png", layout=w.Layout(max_width="820px"))
        self.table = w.HTML(summary_table([]).to_html())

        self.live = LiveTrainingPlot(self.epochs.value, title=PLACEHOLDER_TEXT, image=self.plot, show=False)
        self.live.update()
        self.settings = (self.mode, self.drop_ratio, self.schedule, self.epochs, self.train_size, self.seed)
        for control in self.settings:
            control.observe(self._on_change, names="value")
        self.train_button.on_click(lambda _button: self.train())
        data_note = _("the bundled sample, not the full data set") if getattr(data, "is_sample", False) else "CIFAR-10"
        self.widget = w.VBox(
            [
                w.HTML(
                    _(
                        "<b>Training dashboard</b>: every run calls <code>dropkey_lib.train.train</code> on {data} "
                        "({train} train / {test} test images)."
                    ).format(
                        data=html.escape(data_note),
                        train=f"{len(data.train_images):,}",
                        test=f"{len(data.test_images):,}",
                    )
                ),
                w.HBox([self.mode, self.drop_ratio, self.schedule]),
                w.HBox([self.epochs, self.train_size, self.seed, self.train_button]),
                self.message,
                self.plot,
                w.HTML(
                    _(
                        "<b>Runs so far</b> (train acc. = clean accuracy on training images, gap = train acc. - "
                        "test acc.)"
                    )
                ),
                self.table,
            ]
        )
        self._on_change()

    # -- settings ----------------------------------------------------------------------------------------------

    def _ratio_limit(self, schedule: str) -> float:
        """The largest ratio on the slider's steps that `schedule` accepts at the base model's depth."""
        bound = max_drop_ratio(schedule, self.base.model.depth)  # exclusive
        return round(math.ceil(bound / RATIO_STEP - 1 - 1e-9) * RATIO_STEP, 6)

    def config(self) -> "training.TrainConfig":
        """The `TrainConfig` of the current settings. Raises ValueError (with the reason) for an invalid one."""
        return self.base.replace(
            mode=self.mode.value,
            drop_ratio=float(round(self.drop_ratio.value, 6)),
            schedule=self.schedule.value,
            epochs=int(self.epochs.value),
            train_size=self.train_size.value,
            seed=int(self.seed.value),
        )

    def _say(self, text: str, kind: str = "info") -> None:
        colour = {"info": "#444", "error": "#b00020", "ok": "#1b5e20"}[kind]
        prefix = {"info": "", "error": "&#9888; ", "ok": "&#10003; "}[kind]
        self.message.value = f'<span style="color: {colour}">{prefix}{html.escape(text)}</span>'

    def _say_estimate(self, name: str, config: "training.TrainConfig", seconds: float, earlier: list[float]) -> None:
        """Show the estimated duration of a run; `train` refreshes it after the first epoch (then it says what the
        first estimate was, from the first steps). `earlier` holds the estimates shown before; this one is added."""
        refreshed = (
            _(" (refreshed after the first epoch; it was {first})").format(first=format_duration(earlier[0]))
            if earlier
            else ""
        )
        earlier.append(seconds)
        self._say(
            _(
                "Training {name}: {settings}. Estimated duration on this machine: about {duration}{refreshed} ..."
            ).format(name=name, settings=describe(config), duration=format_duration(seconds), refreshed=refreshed)
        )

    def _on_change(self, _change: Any = None) -> None:
        if self.busy:
            return
        self.drop_ratio.max = self._ratio_limit(self.schedule.value)  # clamps the value to the new maximum
        try:
            config = self.config()
        except ValueError as error:
            self._say(_("These settings cannot be trained: {error}").format(error=error), "error")
            return
        drop = config.drop
        self.drop_ratio.disabled = drop.mode == "none"
        self.schedule.disabled = drop.mode == "none"
        if drop.mode == "none":
            self._say(_("Plain attention: no regulariser (the drop ratio and schedule are not used)."))
        else:
            per_layer = ", ".join(f"{r:.2f}" for r in drop.layer_ratios(config.model.depth))
            self._say(
                _("{mode}: drop ratio per layer, first to last: {ratios}").format(mode=drop.mode, ratios=per_layer)
            )

    # -- training ----------------------------------------------------------------------------------------------

    def train(self) -> "training.TrainResult | None":
        """What the Train button does: train one run with the current settings, live, and add it to the table.

        Returns the `TrainResult`, or None when the settings are invalid or training failed (the reason is shown
        in the dashboard instead of a traceback).
        """
        if self.busy:
            return None
        try:
            config = self.config()
        except ValueError as error:
            self._say(_("These settings cannot be trained: {error}").format(error=error), "error")
            return None
        number = len(self.runs) + 1
        name = f"run {number}"
        out_dir = None if self.out_dir is None else f"{self.out_dir}/run-{number}"
        self.busy = True
        controls = (*self.settings, self.train_button)
        disabled_before = {control: control.disabled for control in controls}
        for control in controls:
            control.disabled = True
        self.train_button.description = _("Training ...")
        estimates: list[float] = []  # what on_estimate said so far
        self._say(_("Training {name}: {settings} ...").format(name=name, settings=describe(config)))
        self.live.reset(epochs=config.epochs, title=f"{name}: {describe(config)}")
        try:
            result = training.train(
                config,
                data=self.data,
                out_dir=out_dir,
                progress=False,
                callback=self.live,
                on_estimate=lambda seconds: self._say_estimate(name, config, seconds, estimates),
                device=self.device,
            )
        except training.TrainingInterrupted as error:
            self._say(_("{name} was interrupted: {error}").format(name=name, error=error), "error")
            return None
        except KeyboardInterrupt:
            self._say(_("{name} was interrupted.").format(name=name), "error")
            return None
        except Exception as error:  # show any failure in the dashboard, not as a traceback
            self._say(
                _("{name} failed: {kind}: {error}").format(name=name, kind=type(error).__name__, error=error), "error"
            )
            return None
        finally:
            self.busy = False
            for control, was_disabled in disabled_before.items():
                control.disabled = was_disabled
            self.train_button.description = _("Train")
        self.results.append(result)
        self.runs.append(Run.from_result(name, config, result))
        self.table.value = summary_table(self.runs).to_html()
        self._on_change()
        self._say(
            _("{name} finished: test accuracy {accuracy}. Change the settings and train again to compare.").format(
                name=name, accuracy=f"{result.test_accuracy:.1%}"
            ),
            "ok",
        )
        return result

    # -- display -----------------------------------------------------------------------------------------------

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        # The widget's default text/plain is the repr of every child, image bytes included: long, and it changes
        # with the fonts of the machine. A fixed line is enough for the places that cannot show widgets.
        data["text/plain"] = "TrainingDashboard (open this notebook in Jupyter to use it)"
        return bundle


def describe(config: "training.TrainConfig") -> str:
    """A short description of a run's settings, e.g. 'dropkey 0.10 linear_down, 4 epochs, 4,000 images, seed 0'."""
    size = "all images" if config.train_size is None else f"{config.train_size:,} images"
    return f"{config.drop.describe()}, {config.epochs} epochs, {size}, seed {config.seed}"
