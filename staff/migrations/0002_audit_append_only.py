"""The staff audit log is append-only in the database itself (PostgreSQL), like consent records.

The trigger refuses
* any UPDATE except forgetting the links to people: ``member_id``, ``actor_id`` and
  ``actor_ip`` to NULL, ``actor_user_agent`` and ``object_id`` to '' (the privacy plan and the
  ``SET_NULL`` of an erased account). The rest of the row is compared as JSON, so columns added
  later are protected without touching this trigger;
* every DELETE.

SQLite has no such trigger: there the model and its queryset refuse (``staff.models.AppendOnly``).
"""

from django.db import migrations

FORGETTABLE = "ARRAY['member_id', 'actor_id', 'actor_ip', 'actor_user_agent', 'object_id']"

CREATE = f"""
CREATE OR REPLACE FUNCTION staff_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the staff audit log is append-only'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.member_id IS NOT NULL AND NEW.member_id IS DISTINCT FROM OLD.member_id)
        OR (NEW.actor_id IS NOT NULL AND NEW.actor_id IS DISTINCT FROM OLD.actor_id)
        OR (NEW.actor_ip IS NOT NULL AND NEW.actor_ip IS DISTINCT FROM OLD.actor_ip)
        OR (NEW.actor_user_agent <> '' AND NEW.actor_user_agent IS DISTINCT FROM OLD.actor_user_agent)
        OR (NEW.object_id <> '' AND NEW.object_id IS DISTINCT FROM OLD.object_id)
        OR (to_jsonb(NEW) - {FORGETTABLE}) IS DISTINCT FROM (to_jsonb(OLD) - {FORGETTABLE})
    THEN
        RAISE EXCEPTION 'the staff audit log is append-only: only links to people may be forgotten'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER staff_audit_append_only
    BEFORE UPDATE OR DELETE ON staff_auditentry
    FOR EACH ROW EXECUTE FUNCTION staff_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS staff_audit_append_only ON staff_auditentry;
DROP FUNCTION IF EXISTS staff_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("staff", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
