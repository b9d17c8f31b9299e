"""Release-gate smoke migration 2 (aksara-framework 0.7.x format): a field and raw SQL."""

from typing import ClassVar

from aksara.migrations import Migration
from aksara.migrations import operations as op


class Migration(Migration):
    dependencies: ClassVar = [("gate_smoke", "gate_smoke_0001_initial")]

    operations: ClassVar = [
        op.AddField(
            table="gate_smoke_notes",
            name="priority",
            field=op.StringField(20, default="normal"),
        ),
        op.RunSQL(
            sql="CREATE INDEX gate_smoke_notes_priority ON gate_smoke_notes (priority)",
            reverse_sql="DROP INDEX gate_smoke_notes_priority",
        ),
    ]
