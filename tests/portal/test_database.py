"""The suite runs where it says: this process's connections, and those of the
workers and servers tests start, are on the test database."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from tests.workers import worker_environment


@pytest.mark.django_db
def test_this_process_is_connected_to_the_test_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        [(name,)] = cursor.fetchall()
    assert name == connection.settings_dict["NAME"]
    assert name.startswith("test_")


@pytest.mark.django_db
def test_a_worker_connects_to_the_database_this_process_uses():
    """What a worker started by a test connects to has this process's tables."""
    url = worker_environment()["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url) as other:
        [(name, tables)] = other.execute(
            "SELECT current_database(), count(*) FROM pg_tables WHERE tablename = 'capabilities_job'"
        ).fetchall()
    assert (name, tables) == (connection.settings_dict["NAME"], 1)


@pytest.mark.django_db
def test_get_prepared_reads_an_instance_as_the_orm_would(acme, alice, django_assert_num_queries):
    """Every concrete field, converted as a queryset converts it (JSON, files,
    foreign keys' ids); None for no row; one statement."""
    from capabilities.documents.models import Document
    from portal.db import get_prepared

    stored = Document.objects.create(
        organization=acme,
        name="terms.pdf",
        file="documents/org-1/x/terms.pdf",
        declared_kind="pdf",
        size=12,
        uploaded_by=alice,
        fields={"dates": [{"text": "2024-03-15", "value": "2024-03-15"}]},
        notes=["1 page(s) hold no text."],
    )
    with django_assert_num_queries(1):
        read = get_prepared(Document, id=stored.pk, organization_id=acme.pk)
    assert read is not None and read.pk == stored.pk
    expected = Document.objects.get(pk=stored.pk)
    for field in Document._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(expected, field.attname), field.name
    assert read.file.name == "documents/org-1/x/terms.pdf"
    assert read.fields["dates"][0]["value"] == "2024-03-15"
    assert get_prepared(Document, id=stored.pk, organization_id=acme.pk + 1000) is None
