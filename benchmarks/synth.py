"""Generate a synthetic Django migration history for benchmarking.

Ten apps (``app00`` .. ``app09``), one model per app (``Item``) that grows over
time.  Migrations are produced round-robin (one "time step" per migration), so
every migration may depend on the latest migration of any other app generated
before it; edges always point back in time and the graph is acyclic.

Every migration emits SQL.  Operations used: AddField (nullable, with a default,
foreign keys to other apps' models), AlterField (max_length and null changes),
AddIndex / RemoveIndex and an occasional RenameField.  The generator keeps a
model of each app's state so every operation is valid for the state it runs on.

Only the standard library is used: the output is plain Python source.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

N_APPS = 10
MODEL = "Item"


@dataclass
class Field:
    kind: str  # "char" | "int" | "bool" | "fk"
    null: bool = True
    max_length: int = 0
    default: object = None
    target: str = ""  # "appNN.item" for fk

    def source(self) -> str:
        if self.kind == "char":
            args = [f"max_length={self.max_length}"]
            if self.default is not None:
                args.append(f"default={self.default!r}")
            if self.null:
                args.append("null=True")
            return f"models.CharField({', '.join(args)})"
        if self.kind == "int":
            args = []
            if self.default is not None:
                args.append(f"default={self.default!r}")
            if self.null:
                args.append("null=True")
            return f"models.IntegerField({', '.join(args)})"
        if self.kind == "bool":
            return f"models.BooleanField(default={self.default!r})"
        if self.kind == "fk":
            return (
                f"models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, "
                f"related_name='+', to={self.target!r})"
            )
        raise AssertionError(self.kind)


@dataclass
class AppState:
    label: str
    fields: dict[str, Field] = field(default_factory=dict)
    indexes: dict[str, str] = field(default_factory=dict)  # index name -> field name
    migrations: list[str] = field(default_factory=list)
    counter: int = 0

    def new_name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:04d}"


def _initial(app: AppState) -> str:
    app.fields["name"] = Field("char", null=False, max_length=100)
    return (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    initial = True\n\n"
        "    dependencies = []\n\n"
        "    operations = [\n"
        "        migrations.CreateModel(\n"
        f"            name={MODEL!r},\n"
        "            fields=[\n"
        "                ('id', models.BigAutoField(auto_created=True, primary_key=True, "
        "serialize=False, verbose_name='ID')),\n"
        "                ('name', models.CharField(max_length=100)),\n"
        "            ],\n"
        "        ),\n"
        "    ]\n"
    )


def _op_add_field(rng: random.Random, app: AppState, apps: list[AppState], deps: set) -> str | None:
    roll = rng.random()
    name = app.new_name("f")
    if roll < 0.30:
        fld = Field("char", null=True, max_length=rng.choice((20, 40, 64, 100, 255)))
    elif roll < 0.45:
        fld = Field("int", null=False, default=rng.choice((0, 1, 10)))
    elif roll < 0.55:
        fld = Field("bool", null=False, default=rng.choice((True, False)))
    elif roll < 0.65:
        fld = Field("char", null=False, max_length=50, default="")
    else:
        others = [a for a in apps if a is not app and a.migrations]
        if not others:
            fld = Field("int", null=True)
        else:
            other = rng.choice(others)
            fld = Field("fk", target=f"{other.label}.item")
            deps.add((other.label, other.migrations[-1]))
    app.fields[name] = fld
    return f"        migrations.AddField(model_name='item', name={name!r}, field={fld.source()}),\n"


def _op_alter_field(rng: random.Random, app: AppState, apps: list[AppState], deps: set) -> str | None:
    candidates = [n for n, f in app.fields.items() if f.kind in ("char", "int") and n != "name"]
    if not candidates:
        return None
    name = rng.choice(candidates)
    fld = app.fields[name]
    if fld.kind == "char" and rng.random() < 0.6:
        fld.max_length = (
            fld.max_length + rng.choice((10, 20, 50)) if rng.random() < 0.8 else max(10, fld.max_length - 5)
        )
    elif fld.null:
        # null -> not null needs a value for existing rows
        fld.null = False
        if fld.default is None:
            fld.default = "" if fld.kind == "char" else 0
    else:
        fld.null = True
    return f"        migrations.AlterField(model_name='item', name={name!r}, field={fld.source()}),\n"


def _op_add_index(rng: random.Random, app: AppState, apps: list[AppState], deps: set) -> str | None:
    indexed = set(app.indexes.values())
    candidates = [n for n, f in app.fields.items() if f.kind != "fk" and n not in indexed]
    if not candidates:
        return None
    fname = rng.choice(candidates)
    iname = f"{app.label}_{app.new_name('ix')}"
    app.indexes[iname] = fname
    return (
        "        migrations.AddIndex(model_name='item', "
        f"index=models.Index(fields=[{fname!r}], name={iname!r})),\n"
    )


def _op_remove_index(rng: random.Random, app: AppState, apps: list[AppState], deps: set) -> str | None:
    if not app.indexes:
        return None
    iname = rng.choice(sorted(app.indexes))
    del app.indexes[iname]
    return f"        migrations.RemoveIndex(model_name='item', name={iname!r}),\n"


def _op_rename_field(rng: random.Random, app: AppState, apps: list[AppState], deps: set) -> str | None:
    indexed = set(app.indexes.values())
    candidates = [n for n, f in app.fields.items() if n != "name" and f.kind != "fk" and n not in indexed]
    if not candidates:
        return None
    old = rng.choice(candidates)
    new = app.new_name("r")
    app.fields[new] = app.fields.pop(old)
    return f"        migrations.RenameField(model_name='item', old_name={old!r}, new_name={new!r}),\n"


OPS = [
    (_op_add_field, 0.45),
    (_op_alter_field, 0.25),
    (_op_add_index, 0.14),
    (_op_remove_index, 0.08),
    (_op_rename_field, 0.08),
]


def _migration(rng: random.Random, app: AppState, apps: list[AppState]) -> str:
    deps = {(app.label, app.migrations[-1])}
    # Interleave the graph: now and then depend on another app's latest migration.
    if rng.random() < 0.3:
        others = [a for a in apps if a is not app and a.migrations]
        if others:
            other = rng.choice(others)
            deps.add((other.label, other.migrations[-1]))
    body = []
    n_ops = rng.choice((1, 1, 1, 2, 2, 3))
    funcs = [f for f, _ in OPS]
    weights = [w for _, w in OPS]
    while len(body) < n_ops:
        op = rng.choices(funcs, weights)[0](rng, app, apps, deps)
        if op is not None:
            body.append(op)
    dep_lines = "".join(f"        ({a!r}, {m!r}),\n" for a, m in sorted(deps))
    return (
        "import django.db.models.deletion\n"
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [\n"
        f"{dep_lines}"
        "    ]\n\n"
        "    operations = [\n"
        f"{''.join(body)}"
        "    ]\n"
    )


def generate(root: Path, n_migrations: int, seed: int = 1) -> list[str]:
    """Write the apps under ``root``; return the app labels.  ``n_migrations`` >= N_APPS."""
    if n_migrations < N_APPS:
        raise ValueError(f"need at least {N_APPS} migrations")
    rng = random.Random(seed)
    apps = [AppState(f"app{i:02d}") for i in range(N_APPS)]
    for app in apps:
        mig_dir = root / app.label / "migrations"
        mig_dir.mkdir(parents=True)
        (root / app.label / "__init__.py").write_text("")
        (root / app.label / "models.py").write_text(
            "# Models exist only in this app's migration history (benchmark fixture).\n"
        )
        (mig_dir / "__init__.py").write_text("")
    for step in range(n_migrations):
        app = apps[step % N_APPS]
        number = len(app.migrations) + 1
        if number == 1:
            name, text = "0001_initial", _initial(app)
        else:
            name = f"{number:04d}_step{step}"
            text = _migration(rng, app, apps)
        (root / app.label / "migrations" / f"{name}.py").write_text(text)
        app.migrations.append(name)
    return [a.label for a in apps]


def change_one_migration(root: Path, label: str = "app00", model: str = "item") -> Path:
    """Append one nullable AddField to the latest migration of ``label`` (a typical PR edit)."""
    mig_dir = root / label / "migrations"
    latest = sorted(p for p in mig_dir.glob("[0-9]*.py"))[-1]
    text = latest.read_text()
    marker = "    operations = [\n"
    assert marker in text, latest
    text = text.replace(
        marker,
        marker + f"        migrations.AddField(model_name={model!r}, name='bench_changed', "
        "field=models.CharField(max_length=30, null=True)),\n",
        1,
    )
    latest.write_text(text)
    return latest
