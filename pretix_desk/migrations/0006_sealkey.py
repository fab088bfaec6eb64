# Written by hand (makemigrations would also write one for pretix's own pending changes,
# see 0003); checked by ``makemigrations --check``.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pretix_desk', '0005_checkin_forced_index'),
        ('pretixbase', '0311_fix_unshredded_invoices'),
    ]

    operations = [
        migrations.CreateModel(
            name='SealKey',
            fields=[
                ('position', models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='pretix_desk_seal',
                    serialize=False, to='pretixbase.orderposition')),
                ('secret_digest', models.CharField(max_length=16)),
                ('master', models.BinaryField(max_length=32)),
            ],
        ),
    ]
