-- The items of grove-pg-app: a title each, newest first.
CREATE TABLE items (
  id bigserial PRIMARY KEY,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX items_created_at ON items (created_at DESC);
