package zkrs.interop;

import java.util.Objects;

/** A POJO payload, as Curator services usually carry (the Rust side writes it tagged with this class name). */
public class InstanceDetails {
    private String description;
    private int weight;

    public InstanceDetails() {}

    public InstanceDetails(String description, int weight) {
        this.description = description;
        this.weight = weight;
    }

    public String getDescription() {
        return description;
    }

    public void setDescription(String description) {
        this.description = description;
    }

    public int getWeight() {
        return weight;
    }

    public void setWeight(int weight) {
        this.weight = weight;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InstanceDetails d && weight == d.weight && Objects.equals(description, d.description);
    }

    @Override
    public int hashCode() {
        return Objects.hash(description, weight);
    }

    @Override
    public String toString() {
        return "InstanceDetails{" + description + ", " + weight + "}";
    }
}
