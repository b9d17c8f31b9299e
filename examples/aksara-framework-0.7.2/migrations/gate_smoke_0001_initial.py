"""Release-gate smoke migration 1 (aksara-framework 0.7.x format): create a table."""

from typing import ClassVar

from aksara.migrations import Migration
from aksara.migrations import operations as op


class Migration(Migration):
    dependencies: ClassVar = []

    operations: ClassVar = [
        op.CreateTable(
            name="gate_smoke_notes",
            fields=[
                ("id", op.UUIDField(primary_key=True)),
                ("title", op.StringField(120)),
                ("created_at", op.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
