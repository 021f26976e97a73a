-- Finds the accounts with data under one namespace without reading all
-- of private storage: at every start the server looks for XEP-0048
-- bookmarks left there, to move them to PEP (XEP-0402).
CREATE INDEX private_storage_namespace ON private_storage (namespace);
