-- telleverk schema, version 3: readings entered by people (manual, vendor,
-- final, start) are few among millions of polled values; billing reads all of
-- them, so they get their own small index.
CREATE INDEX meter_values_entered ON meter_values (device_id, meter, at)
    WHERE source != 0;
