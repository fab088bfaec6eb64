# Written by hand (makemigrations would also write one for pretix's own pending changes,
# see 0003); checked by ``makemigrations --check``.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pretix_desk', '0007_deskreport'),
        ('pretixbase', '0311_fix_unshredded_invoices'),
    ]

    operations = [
        migrations.CreateModel(
            name='DoorCapacity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ('capacity', models.PositiveIntegerField()),
                ('checkin_list', models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name='+', to='pretixbase.checkinlist')),
                ('gate', models.ForeignKey(
                    null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='pretixbase.gate')),
            ],
            options={
                'constraints': [
                    models.UniqueConstraint(fields=('checkin_list', 'gate'), name='pretix_desk_capacity_gate_once'),
                    models.UniqueConstraint(condition=models.Q(('gate__isnull', True)), fields=('checkin_list',),
                                            name='pretix_desk_capacity_list_once'),
                ],
            },
        ),
    ]
