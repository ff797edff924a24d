-- A second step, as a real schema grows: items can be marked done.
ALTER TABLE items ADD COLUMN done boolean NOT NULL DEFAULT false;
