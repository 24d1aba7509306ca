"""New run: a form generated from the config schema and the chosen method's PARAMS; validated before launch.

The schema lives in the method files, which import torch; the form loads it in a worker thread so that
opening the app stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, LoadingIndicator, Select, Static, Switch

from rich.text import Text

from sslbench.core import atomic, config
from sslbench.core.datasets import DATASETS, check_data
from sslbench.core.methods import SPECS as METHOD_SPECS
from sslbench.core.names import check_name
from sslbench.core.presets import find_preset, list_presets, read_preset, user_dir
from sslbench.core.schema import MODELS, SECTIONS
from sslbench.core.errors import ConfigError
from sslbench.core.params import Param

# (section, name) of the main fields, in form order after dataset, method and M; each is rendered from its Param
FIRST = (("data", "dataset"),)
MAIN = (("data", "m"), ("data", "dir"), ("data", "labeled"), ("data", "per_class"), ("model", "name"),
        ("train", "steps"), ("train", "epochs"), ("train", "device"), ("train", "seed"), ("train", "batch"),
        ("train", "mu"), ("optim", "name"), ("optim", "lr"))


def field_id(sec: str, name: str) -> str:
    """Widget id of a field."""
    return f"f-{sec}-{name}"


class NewRunScreen(Screen):
    """Pick dataset, method, M and the rest; launch a background run and open its live view."""

    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch", id="launch"),
        Binding("ctrl+s", "save_preset", "Save preset", id="save"),
        Binding("escape", "app.pop_screen", "Cancel", id="cancel"),
    ]

    def __init__(self, root: Path):
        super().__init__()
        self.root = root
        self.ready = False
        self.method_shown = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="form"):
            yield LoadingIndicator(id="form-loading")
        yield Static("", id="form-error")
        with Horizontal(id="form-buttons"):
            yield Button("Launch (ctrl+l)", id="launch", variant="success")
            yield Button("Save preset (ctrl+s)", id="save")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "new run"
        self.load_schema()

    @work(thread=True, exclusive=True, group="schema")
    def load_schema(self) -> None:
        """Read the declarations (torch-free core) off the main thread, then build the form."""
        gpus = Path("/proc/driver/nvidia/gpus")
        n_gpus = len(list(gpus.iterdir())) if gpus.is_dir() else 0
        info = {"datasets": list(DATASETS), "methods": {n: (s.params, s.summary) for n, s in METHOD_SPECS.items()},
                "models": list(MODELS), "devices": ["auto", "cpu", *(f"cuda:{i}" for i in range(n_gpus))],
                "presets": list_presets()}
        self.app.call_from_thread(self.build_form, info)

    async def build_form(self, info: dict[str, Any]) -> None:
        """Mount the fields, filled from the quickstart preset."""
        self.info = info
        form = self.query_one("#form", VerticalScroll)
        await self.query_one("#form-loading").remove()
        presets = [(p.stem, str(p)) for p in info["presets"]]
        params = {sec: {p.name: p for p in ps} for sec, ps in SECTIONS.items()}

        def field(sec: str, name: str) -> Vertical:
            p = params[sec][name]
            choices = {"dataset": info["datasets"], "device": info["devices"]}.get(name)
            if (sec, name) == ("model", "name"):
                choices = info["models"]
            return self._row("M" if name == "m" else name if sec != "model" else "model", p.help,
                             self._widget(sec, p, choices))

        methods = list(info["methods"])
        rows = [field(*FIRST[0]),
                self._row("method", "the method; its own parameters follow at the end",
                          Select([(f"{m}: {info['methods'][m][1]}"[:52], m) for m in methods], value="fixmatch",
                                 id="method", allow_blank=False, compact=True)),
                *[field(sec, name) for sec, name in MAIN[:1]],
                self._row("preset", "fill every field from a preset",
                          Select(presets, value=str(find_preset("quickstart")), id="preset", allow_blank=False,
                                 compact=True)),
                *[field(sec, name) for sec, name in MAIN[1:]],
                Vertical(id="method-params")]
        await form.mount_all(rows)
        await self.apply_preset(str(find_preset("quickstart")))
        self.ready = True
        self.query_one(f"#{field_id(*FIRST[0])}").focus()  # the first field, so typing works at once

    def _row(self, label: str, help_text: str, widget: Any) -> Vertical:
        wid = widget.id or label
        error = Static("", classes="field-error", id=f"err-{wid}", markup=False)
        error.display = False
        return Vertical(Horizontal(Label(label, classes="field-label", markup=False), widget, classes="field-row"),
                        Static(help_text, classes="field-help", markup=False), error, classes="field")

    def _widget(self, sec: str, p: Param, choices: list[str] | None = None) -> Any:
        wid = field_id(sec, p.name)
        choices = choices or (list(p.choices) if p.choices else None)
        if p.type is bool:
            return Switch(value=bool(p.default), id=wid)
        if choices:
            return Select([(str(c), c) for c in choices], value=p.default if p.default in choices else choices[0],
                          id=wid, allow_blank=False, compact=True)
        return Input(str(p.default), id=wid, compact=True)

    async def apply_preset(self, path: str) -> None:
        """Fill the form from a preset."""
        try:
            cfg = config.load(path)
        except ConfigError as e:
            self.show_error(str(e))
            return
        for sec, name in FIRST + MAIN:
            self._set(field_id(sec, name), getattr(cfg, sec)[name])
        self.query_one("#method", Select).value = cfg.method["name"]
        await self.mount_method_params(cfg.method["name"], cfg.method)

    def _set(self, wid: str, value: Any) -> None:
        w = self.query_one(f"#{wid}")
        if isinstance(w, Input):
            w.value = str(value)
        elif isinstance(w, (Select, Switch)):
            w.value = value

    async def mount_method_params(self, method: str, values: dict[str, Any] | None = None) -> None:
        """Fields generated from the method's declared PARAMS (defaults, ranges, help)."""
        box = self.query_one("#method-params", Vertical)
        await box.remove_children()
        params, _ = self.info["methods"][method]
        self.method_shown = method
        rows, widgets = [], []
        for p in params:
            rng = f" [{'|'.join(map(str, p.choices))}]" if p.choices else (
                f" [{'' if p.lo is None else p.lo}, {'' if p.hi is None else p.hi}]" if p.lo is not None or
                p.hi is not None else "")
            w = self._widget("method", p)
            rows.append(self._row(p.name, f"{self.method_shown}: {p.help}{rng} (default {p.default})", w))
            widgets.append((w.id, values.get(p.name) if values else None))
        await box.mount_all(rows)
        for wid, value in widgets:
            if value is not None:
                self._set(wid, value)

    async def on_select_changed(self, event: Select.Changed) -> None:
        if not self.ready:
            return
        if event.select.id == "preset":
            await self.apply_preset(str(event.value))
        elif event.select.id == "method" and event.value != self.method_shown:
            await self.mount_method_params(str(event.value))

    # ------------------------------------------------------------------ validation and launch
    def overrides(self) -> list[tuple[str, Any]]:
        """Every field as a (key, value) override; text is parsed as a TOML literal."""
        out: list[tuple[str, Any]] = [("method.name", self.query_one("#method", Select).value)]
        for w in self.query("Input, Select, Switch"):
            if not (w.id or "").startswith("f-"):
                continue
            _, sec, name = w.id.split("-", 2)
            value = w.value
            if isinstance(w, Input):
                value = config.parse_override(f"x={value}")[1] if value.strip() else ""
            out.append((f"{sec}.{name}", value))
        return out

    def validate(self) -> config.Config | None:
        """Resolve and check the form; show every error beside its field at once. Returns the config or None.

        Each bad field is set aside and the rest resolved again, so one wrong value does not hide the next."""
        for e in self.query(".field-error"):
            e.update("")
            e.display = False
        self.show_error("")
        base = read_preset(Path(str(self.query_one("#preset", Select).value)))
        pairs = self.overrides()
        errors: dict[str, str] = {}
        for _ in range(len(pairs) + 1):
            try:
                cfg = config.resolve(base, pairs, source="form")
                check_data(cfg)
                break
            except ConfigError as e:
                msg = str(e).removeprefix("form: ").removeprefix("--set ")
                key = self._field_of(msg, [k for k, _ in pairs])
                if key is None or key in errors:
                    errors["form"] = msg
                    break
                errors[key] = msg
                pairs = [(k, v) for k, v in pairs if k != key]
        if not errors:
            return cfg
        first = None
        for key, msg in errors.items():
            sec, _, name = key.partition(".")
            box = self.query(f"#err-{field_id(sec, name)}") if key != "form" else []
            if box:
                box.first().update(msg)
                box.first().display = True
                first = first or box.first()
        if first is not None:
            self.call_after_refresh(first.scroll_visible, animate=False)  # the first error in view
        shown = [m for k, m in errors.items() if k == "form" or not self.query(f"#err-{field_id(*k.split('.', 1))}")]
        n = len(errors)
        self.show_error(f"{n} error{'s' if n > 1 else ''}" + (": " + "; ".join(shown) if shown else " (beside the fields)"))
        return None

    @staticmethod
    def _field_of(msg: str, keys: list[str]) -> str | None:
        """The form field an error message is about."""
        for key in sorted(keys, key=len, reverse=True):
            if key in msg:
                return key
        special = (("data.m", msg.startswith("M=")), ("data.dataset", "dataset" in msg),
                   ("data.dir", "missing" in msg), ("method.name", "method" in msg))
        return next((k for k, hit in special if hit and k in keys), None)

    def show_error(self, msg: str) -> None:
        """The form-wide error line."""
        self.query_one("#form-error", Static).update(Text(msg, style="red"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        elif event.button.id == "save":
            self.action_save_preset()

    def action_launch(self) -> None:
        """Validate, create the run directory, start the background trainer and open its live view."""
        from sslbench.runs.launch import launch
        from sslbench.core.store import new_run
        from sslbench.tui.screens.run_view import RunView

        cfg = self.validate() if self.ready else None
        if cfg is None:
            return
        run_dir = new_run(self.root, cfg)
        launch(run_dir)
        self.app.switch_screen(RunView(run_dir))

    def action_save_preset(self) -> None:
        """Write the form as <name>.toml in the user's presets directory (it then shadows a shipped one)."""
        from sslbench.tui.screens.confirm import Prompt

        cfg = self.validate() if self.ready else None
        if cfg is None:
            return

        def done(name: str | None) -> None:
            if not name:
                return
            try:
                stem = check_name(name.removesuffix(".toml"), "preset name")
                path = user_dir() / f"{stem}.toml"
                path.parent.mkdir(parents=True, exist_ok=True)
            except (ConfigError, OSError) as e:
                self.notify(str(e), severity="error", markup=False)
                return
            cfg.description = cfg.description or f"saved from the form: {cfg.data['dataset']} / {cfg.method['name']}"
            atomic.write_text(path, cfg.to_toml())
            self.notify(f"saved {path}", markup=False)

        self.app.push_screen(Prompt("preset name"), done)
