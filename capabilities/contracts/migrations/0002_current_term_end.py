"""Contracts gain the end of the term running now; the ones already analysed
get it as of the day the migration runs (the daily check keeps it current)."""

from django.db import migrations, models
from django.utils import timezone

from capabilities.contracts.fields import current_term_end, next_notice_deadline


def schedule_existing(apps, schema_editor):
    contract_model = apps.get_model("contracts", "Contract")
    today = timezone.localdate()
    for contract in contract_model.objects.order_by("pk").iterator():
        renews = contract.auto_renews is not False
        contract.current_term_end = (
            current_term_end(contract.expiry_date, contract.renewal_term_months, today)
            if renews
            else contract.expiry_date
        )
        if renews:
            contract.next_notice_deadline = next_notice_deadline(
                contract.notice_deadline, contract.expiry_date, contract.renewal_term_months, today
            )
        contract.save(update_fields=["current_term_end", "next_notice_deadline"])


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="contract",
            name="current_term_end",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.RunPython(schedule_existing, migrations.RunPython.noop),
    ]
