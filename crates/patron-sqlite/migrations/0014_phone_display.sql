-- A phone's display form (national in the chain's region, international
-- otherwise), made when the number is written: formatting it on every read
-- cost a customer list more than its lookup. Filled for existing rows by
-- customers::fill_phone_display.
ALTER TABLE customers ADD COLUMN phone_display TEXT;
