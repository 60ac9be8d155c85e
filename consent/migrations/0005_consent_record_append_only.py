"""Consent records are append-only in the database itself (PostgreSQL).

The trigger refuses
* any UPDATE that changes evidence: only forgetting personal data is allowed, i.e. setting
  ``user_id`` or ``actor_id`` to NULL, ``ip`` to NULL and ``user_agent`` to '' (what erasure and the
  ``forget_member`` on_delete do); every other column must stay as it was. The comparison is over
  the whole row as JSON, so columns added later are protected without touching this trigger;
* any DELETE of a row still linked to a member (a pseudonymised row may be purged by retention).

Kept separate from the migration that creates the table (``0004_purposes``).
SQLite (the embedded development set-up) has no such trigger: there the services are the guard.
"""

from django.db import migrations

FORGETTABLE = "ARRAY['user_id', 'actor_id', 'ip', 'user_agent']"

CREATE = f"""
CREATE OR REPLACE FUNCTION consent_record_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.user_id IS NULL THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'consent records are append-only: erase the member before deleting their records'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.user_id IS NOT NULL AND NEW.user_id IS DISTINCT FROM OLD.user_id)
        OR (NEW.actor_id IS NOT NULL AND NEW.actor_id IS DISTINCT FROM OLD.actor_id)
        OR (NEW.ip IS NOT NULL AND NEW.ip IS DISTINCT FROM OLD.ip)
        OR (NEW.user_agent <> '' AND NEW.user_agent IS DISTINCT FROM OLD.user_agent)
        OR (to_jsonb(NEW) - {FORGETTABLE}) IS DISTINCT FROM (to_jsonb(OLD) - {FORGETTABLE})
    THEN
        RAISE EXCEPTION 'consent records are append-only: only personal data may be forgotten'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER consent_record_append_only
    BEFORE UPDATE OR DELETE ON consent_consentrecord
    FOR EACH ROW EXECUTE FUNCTION consent_record_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS consent_record_append_only ON consent_consentrecord;
DROP FUNCTION IF EXISTS consent_record_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("consent", "0004_purposes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
