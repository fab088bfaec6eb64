# Written by hand (makemigrations would also write one for pretix's own pending changes,
# see 0003); checked by ``makemigrations --check``.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pretix_desk', '0006_sealkey'),
        ('pretixbase', '0311_fix_unshredded_invoices'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='DeskReport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ('desk', models.CharField(max_length=40)),
                ('version', models.CharField(max_length=40)),
                ('state', models.CharField(max_length=20)),
                ('state_since', models.DateTimeField(null=True)),
                ('last_sync', models.DateTimeField(null=True)),
                ('offline_from', models.DateTimeField(null=True)),
                ('offline_until', models.DateTimeField(null=True)),
                ('queued', models.PositiveIntegerField(default=0)),
                ('parked', models.PositiveIntegerField(default=0)),
                ('failing', models.PositiveIntegerField(default=0)),
                ('scans_5min', models.PositiveIntegerField(default=0)),
                ('first_seen', models.DateTimeField()),
                ('last_seen', models.DateTimeField()),
                ('checkin_list', models.ForeignKey(
                    null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+',
                    to='pretixbase.checkinlist')),
                ('event', models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name='+', to='pretixbase.event')),
                ('gate', models.ForeignKey(
                    null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+',
                    to='pretixbase.gate')),
                ('user', models.ForeignKey(
                    null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+',
                    to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('event', 'desk'), name='pretix_desk_report_once')],
            },
        ),
    ]
